from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exchanges", "0011_paper_swaps"),
    ]

    operations = [
        migrations.AddField(
            model_name="exchangeaccount",
            name="position_mode",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="one_way | hedge as the exchange last said (read at connect, daily, and after a refusal "
                "that says the mode is wrong); empty until read. Groups record it when they open.",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="exchangeaccount",
            name="derivatives_settings",
            field=models.JSONField(
                blank=True,
                default=dict,
                editable=False,
                help_text='What the engine last set per symbol: {"BTC/USDT:USDT": {"leverage": 5, "margin_mode": '
                '"isolated"}}; set again only when an opening order needs other values.',
            ),
        ),
    ]
