"""What extraction shares between the worker and the dashboard: reading model output."""
