"""Bridges to other tools' APIs (optional extras): robust selection inside their loops."""
