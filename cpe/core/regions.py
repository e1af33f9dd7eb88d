"""The management regions of Inner Mongolia (rules R1.5): a learner's region (accounts) and the
region an announcement is addressed to (notices) speak the same codes, so they live here, below
both."""

from django.db import models


class Region(models.TextChoices):
    """The 15 management regions of rules R1.5 (administrative division codes)."""

    QUZHI = "150000", "自治区直属（区直）"
    HOHHOT = "150100", "呼和浩特市"
    BAOTOU = "150200", "包头市"
    WUHAI = "150300", "乌海市"
    CHIFENG = "150400", "赤峰市"
    TONGLIAO = "150500", "通辽市"
    ORDOS = "150600", "鄂尔多斯市"
    HULUNBUIR = "150700", "呼伦贝尔市"
    BAYANNUR = "150800", "巴彦淖尔市"
    ULANQAB = "150900", "乌兰察布市"
    HINGGAN = "152200", "兴安盟"
    XILINGOL = "152500", "锡林郭勒盟"
    ALXA = "152900", "阿拉善盟"
    MANZHOULI = "150781", "满洲里市"
    ERENHOT = "152501", "二连浩特市"
