"""Framework-free application services: validation rules and record building over storage."""
