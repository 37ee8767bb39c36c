"""Blocks: reusable groups of layers defined once in a project and used by instances.

The data model (BlockDefinition, BlockLibrary) lives in core.graph.blocks, beside the
graph that owns it; this package holds what works with it: the instance's parameter
schema (specs), definition analysis, build helpers, the commands that group, ungroup
and edit blocks, and .vsblock files. Nothing is imported here, so a module of the
graph package can import one of these without importing the others.
"""
