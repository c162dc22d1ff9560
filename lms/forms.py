from django import forms

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class SubmissionForm(forms.Form):
    text = forms.CharField(
        label="Your answer",
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Write your answer, or paste a link to your work."}),
        required=False,
    )
    file = forms.FileField(label="And/or attach a file (10 MB at most)", required=False)

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if file and file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB.")
        return file

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not (cleaned.get("text") or "").strip() and not cleaned.get("file"):
            raise forms.ValidationError("Write an answer or attach a file.")
        return cleaned
