"""The trio edge for processes: node (loop, timers), actor runner, supervisors,
the connection runner and thread bridges."""
