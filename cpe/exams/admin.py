from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from cpe.core.admin_base import SafeModelAdmin

from . import importer, policy
from .models import Attempt, AttemptItem, Question


class ImportForm(forms.Form):
    file = forms.FileField(label="题库文件（.xlsx）")

    def clean_file(self):
        f = self.cleaned_data["file"]
        problem = policy.import_limits_problem(file_bytes=f.size)
        if problem:
            raise forms.ValidationError(problem + "。")
        return f


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = "__all__"

    def clean(self):
        """The same question text cannot be in both pools of a course (policy.pool_conflict):
        practice would show the exam question's answer."""
        data = super().clean()
        course, pool, stem = data.get("course"), data.get("pool"), data.get("stem")
        if course is not None and pool and stem:
            key = policy.question_key(stem)
            others = (
                Question.objects.filter(course=course)
                .exclude(pk=self.instance.pk)
                .values_list("stem", "pool")
            )
            other = next((p for s, p in others if policy.question_key(s) == key and p != pool), None)
            if policy.pool_conflict(pool, other):
                raise forms.ValidationError(
                    f"本课程{policy.POOL_LABELS[other]}中已有同一题干，同一道题不能同时作为练习题和考试题。"
                )
        return data


@admin.register(Question)
class QuestionAdmin(SafeModelAdmin):
    form = QuestionForm
    list_display = ["id", "course", "chapter", "pool", "qtype", "short_stem", "answer_letters", "is_active"]
    list_filter = ["pool", "qtype", "is_active", "course__year", "course"]
    search_fields = ["stem", "course__code", "course__title"]
    autocomplete_fields = []
    change_list_template = "admin/exams/question/change_list.html"

    @admin.display(description="题干")
    def short_stem(self, obj):
        return obj.stem[:40]

    @admin.display(description="答案")
    def answer_letters(self, obj):
        return obj.answer_letters

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="exams_question_import"),
            path(
                "import/template/",
                self.admin_site.admin_view(self.template_view),
                name="exams_question_template",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = importer.import_workbook(form.cleaned_data["file"], actor=request.user)
            if report.ok:
                messages.success(request, f"已导入 {report.created} 道试题。")
                return redirect("admin:exams_question_changelist")
        return render(
            request,
            "admin/exams/question/import.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "report": report,
                "opts": self.model._meta,
                "title": "导入题库",
            },
            status=400 if report and not report.ok else 200,
        )

    def template_view(self, request):
        if not self.has_add_permission(request):  # the import's own right, like import_view
            return HttpResponse(status=403)
        resp = HttpResponse(
            importer.template_bytes(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        resp["Content-Disposition"] = "attachment; filename*=UTF-8''question-bank-template.xlsx"
        return resp


class AttemptItemInline(admin.TabularInline):
    model = AttemptItem
    extra = 0
    can_delete = False
    fields = ["position", "question", "qtype", "points", "answer", "earned", "saved_at"]
    readonly_fields = fields


@admin.register(Attempt)
class AttemptAdmin(SafeModelAdmin):
    list_display = [
        "id",
        "user",
        "course",
        "number",
        "status",
        "score",
        "passed",
        "started_at",
        "submitted_at",
    ]
    list_filter = ["status", "passed", "course"]
    inlines = [AttemptItemInline]
    readonly_fields = [f.name for f in Attempt._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
