"""Interfaces only; implementations live in plural family folders."""
