from django.contrib import admin, messages

from core.admin import OwnedAdmin, ReadOnlyAdmin
from exchanges.forms import PLAIN_NUMBERS, WriteOnlySecretsForm
from exchanges.models import (
    ACCOUNT_FIELDS,
    KEY_FIELDS,
    PAPER_FIELDS,
    ExchangeAccount,
    PaperAccountPrice,
    PaperBalance,
    PaperFill,
    PaperMarket,
    PaperOrder,
    PaperPrice,
)
from exchanges.services.connection import account_test_connection


class ExchangeAccountForm(WriteOnlySecretsForm):
    secret_fields = KEY_FIELDS

    class Meta:
        model = ExchangeAccount
        fields = "__all__"


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(OwnedAdmin):
    formfield_overrides = PLAIN_NUMBERS
    form = ExchangeAccountForm
    list_display = ("exchange_id", "market_type", "label", "user", "mode", "price_feed", "is_enabled", "keys_stored")
    list_filter = ("mode", "market_type", "exchange_id", "is_enabled")
    search_fields = ("exchange_id", "label", "user__username")
    # Fault drills and the answer dialect are shown, never edited here: `manage.py paper fault|dialect`.
    readonly_fields = ("paper_faults", "paper_dialect", "last_connection_error", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("user", *ACCOUNT_FIELDS)}),
        ("API keys (write-only)", {"fields": KEY_FIELDS}),
        ("Paper exchange", {"fields": PAPER_FIELDS}),
        ("Operator drills (manage.py paper fault / paper dialect)", {"fields": ("paper_faults", "paper_dialect")}),
        ("Status", {"fields": ("last_connection_error", "created_at", "updated_at")}),
    )

    actions = ["test_connection"]

    @admin.action(description="Test connection (fetch the balance)")
    def test_connection(self, request, queryset):
        for account in queryset:
            check = account_test_connection(account=account)
            if check.ok:
                held = ", ".join(f"{total.normalize():f} {asset}" for asset, total in check.balances.items()) or "empty"
                self.message_user(request, f"{account}: connected; balance {held}.", messages.SUCCESS)
            else:
                self.message_user(request, f"{account}: {check.error}", messages.ERROR)

    @admin.display(boolean=True, description="Keys stored")
    def keys_stored(self, account: ExchangeAccount) -> bool:
        return account.has_keys


# Markets and shared prices belong to no trader: every paper account on the exchange trades them, so
# only staff with the model's permissions edit them (and a superuser).
@admin.register(PaperMarket)
class PaperMarketAdmin(admin.ModelAdmin):
    formfield_overrides = PLAIN_NUMBERS
    list_display = ("exchange_id", "symbol", "market_id", "tick_size", "step_size", "min_qty", "min_notional")
    list_filter = ("exchange_id",)
    search_fields = ("symbol", "market_id")


@admin.register(PaperPrice)
class PaperPriceAdmin(admin.ModelAdmin):
    formfield_overrides = PLAIN_NUMBERS
    list_display = ("exchange_id", "symbol", "price", "updated_at")
    list_filter = ("exchange_id",)
    search_fields = ("symbol",)


@admin.register(PaperAccountPrice)
class PaperAccountPriceAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "account__user"
    list_display = ("account", "symbol", "price", "updated_at")
    search_fields = ("symbol", "account__user__username")


@admin.register(PaperBalance)
class PaperBalanceAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "account__user"
    list_display = ("account", "asset", "free", "used")
    list_filter = ("account__exchange_id",)
    search_fields = ("asset",)


@admin.register(PaperOrder)
class PaperOrderAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "account__user"
    list_display = ("client_order_id", "account", "symbol", "side", "order_type", "price", "amount", "filled", "status")
    list_filter = ("status", "exchange_id", "side", "order_type")
    search_fields = ("client_order_id", "symbol")


@admin.register(PaperFill)
class PaperFillAdmin(OwnedAdmin, ReadOnlyAdmin):
    owner = "order__account__user"
    list_display = ("order", "price", "amount", "fee", "fee_currency", "is_maker", "created_at")
    search_fields = ("order__client_order_id",)
