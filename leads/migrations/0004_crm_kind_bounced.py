from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_lead_first_contacted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="crmactivity",
            name="kind",
            field=models.CharField(
                choices=[
                    ("lead_imported", "Lead imported"),
                    ("email_planned", "Email planned"),
                    ("cta_submitted", "CTA submitted"),
                    ("lead_converted", "Lead converted"),
                    ("user_created", "Student account created"),
                    ("welcome_email", "Welcome email queued"),
                    ("welcome_whatsapp", "WhatsApp welcome queued"),
                    ("call_scheduled", "Welcome call scheduled"),
                    ("admin_notified", "Staff notified"),
                    ("approved", "Approved"),
                    ("rejected", "Rejected"),
                    ("unsubscribed", "Unsubscribed"),
                    ("bounced", "Email bounced"),
                    ("note", "Note"),
                ],
                max_length=32,
            ),
        ),
    ]
