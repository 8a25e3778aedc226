"""A camera for the development instance: it draws a picture with the time on it."""
