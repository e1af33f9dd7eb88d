from cpe.exams.tests.fixtures import _media_in_tmp, course, learner, paid, year  # noqa: F401
