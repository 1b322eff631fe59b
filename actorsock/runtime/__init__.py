"""The trio edge for processes: loop (timers, deliveries, fan-out), actor runner, supervisors,
the connection runner and thread bridges."""
