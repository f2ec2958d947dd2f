"""The core's queues behind one interface (base.JobQueue), chosen once by choice.open_queue."""
