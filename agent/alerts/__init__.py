"""Alerts: rules stored in the journal (`book`) and the watcher that evaluates them (`watcher`)."""
