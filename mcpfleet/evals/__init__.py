"""Evaluation harness for tool-calling models (see issue: eval harness)."""
