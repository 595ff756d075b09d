"""Thin views: parse input, call an action or selector, render."""
