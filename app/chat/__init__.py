"""Gradio chat window (being written)."""
