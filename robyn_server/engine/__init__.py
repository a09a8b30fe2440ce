"""Graph loading and building, framework-free."""
