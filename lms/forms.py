from django import forms

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class SubmissionForm(forms.Form):
    text = forms.CharField(label="Your answer", widget=forms.Textarea(attrs={"rows": 6}), required=False)
    file = forms.FileField(label="Or attach a file (10 MB at most)", required=False)

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if file and file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB.")
        return file
