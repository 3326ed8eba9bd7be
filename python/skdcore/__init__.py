"""skdcore: Structural Knowledge Distillation for skeleton-based action recognition."""
__version__ = "0.1.0"
