"""Prompt templates as package data: one .txt file per template, loaded by name."""
