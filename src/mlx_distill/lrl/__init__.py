"""Reflective distillation (LRL): a teacher solves problems of a task, keeps a journal of its mistakes and
distils a strategy; verified synthetic examples that apply the strategy train a student (LoRA); an honest
evaluation compares them on a held-out, class-balanced set. See docs/lrl.md."""

from .task import Problem, Task, class_balance, get_task, problem_set, register, task_names

__all__ = ["Problem", "Task", "class_balance", "get_task", "problem_set", "register", "task_names"]
