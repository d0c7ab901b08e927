"""Admin bases every app's admin uses. Admin is for operators; traders use the dashboard. Only staff
reach it (Django's default). A superuser sees every trader's records; any other staff member sees
only their own (``OwnedAdmin``), and no one moves a record to another owner once it exists."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the engine writes: visible, filterable, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OwnedAdmin(admin.ModelAdmin):
    """A trader's records: everyone's for a superuser; for any other staff member only their own, so
    another's list rows are absent and its pages answer as for a record that does not exist.

    ``owner`` is the lookup from the record to its user ("user", "group__user", …; "pk" for users).
    A direct owner field is read-only once the record exists (an account, with its positions, never
    changes hands), and a new record of a non-superuser can only be their own.
    """

    owner = "user"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{self.owner: request.user.pk})

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and self.owner not in readonly and "__" not in self.owner and self.owner != "pk":
            readonly += (self.owner,)
        return readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == self.owner and not request.user.is_superuser:
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
