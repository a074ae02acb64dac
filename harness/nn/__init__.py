"""Shared neural building blocks: vision / text encoders, conditioning, checkpoints, training loop.

Policies and world models import from here and never from each other.
"""
