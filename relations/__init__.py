"""mmrakit."""
