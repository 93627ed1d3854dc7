"""Wyoming front door: bounded reader, writer (timeout, abort), admission, connection."""
