from django.urls import path

from . import views

app_name = "learning"
urlpatterns = [
    path("course/<int:course_id>/", views.course_detail, name="course"),
    path("chapter/<int:chapter_id>/", views.chapter_player, name="chapter"),
    path("play/<str:key>/index.m3u8", views.playlist, name="playlist"),
    path("key/<str:token>/", views.key, name="key"),
    path("seg/<str:token>/", views.segment, name="segment"),
]
