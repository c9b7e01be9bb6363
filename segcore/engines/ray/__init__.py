"""`score --engine ray`: reader (Ray Data datasource), actor (the model actor), session (Ray
start / connect) and job (`score_ray`)."""
from .job import score_ray
from .reader import input_files
from .session import ray_session

__all__ = ["input_files", "ray_session", "score_ray"]
