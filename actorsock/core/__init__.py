"""Pure bookkeeping: processes, mailboxes, registries, timers, supervision
decisions, routes, frames and the handler contract. Nothing here imports trio
or does I/O, so all of it is unit-tested without an event loop."""
