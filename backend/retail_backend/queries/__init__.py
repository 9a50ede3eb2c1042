"""SQL the API runs, next to the functions that run it."""
