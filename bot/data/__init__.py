"""Market data: the columnar event format, readers, instruments, replay."""
