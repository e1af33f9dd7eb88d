from cpe.exams.tests.fixtures import _media_in_tmp, course, learner, paid, practice, year  # noqa: F401
