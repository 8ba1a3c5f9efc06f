"""Timing: durations of hardware operations, the operation stream, and the simpy event model."""
