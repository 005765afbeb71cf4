"""Advocate screens: UN working-paper settings, preview, generation and history."""
