"""What the instance metadata service knows of one instance, found by where it calls from."""
