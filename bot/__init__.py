"""Advocate: help people win the support of the colleagues they depend on."""

__version__ = "0.1.0"
