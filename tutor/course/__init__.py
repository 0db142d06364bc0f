"""Course data: the exercises as read from exercises/*.toml."""

from tutor.course.load import CourseError, course_root, load_course
from tutor.course.model import Course, Exercise, Mistake, Step

__all__ = ["Course", "CourseError", "Exercise", "Mistake", "Step", "course_root", "load_course"]
