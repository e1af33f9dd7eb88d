from django.urls import path

from . import views

app_name = "exams"
urlpatterns = [
    path("course/<int:course_id>/", views.exam_home, name="home"),
    path("course/<int:course_id>/start/", views.exam_start, name="start"),
    path("attempt/<int:attempt_id>/", views.attempt_page, name="attempt"),
    path("attempt/<int:attempt_id>/save/", views.attempt_save, name="save"),
    path("attempt/<int:attempt_id>/submit/", views.attempt_submit, name="submit"),
    path("attempt/<int:attempt_id>/result/", views.attempt_result, name="result"),
    path("practice/chapter/<int:chapter_id>/", views.practice_chapter, name="practice_chapter"),
    path("practice/course/<int:course_id>/", views.practice_mock, name="practice_mock"),
    path("practice/check/<int:question_id>/", views.practice_check, name="practice_check"),
]
