"""``POST /api/v1/auth/token/``: a script trades its username and password for an API token.

The token is the user's one DRF token (``Authorization: Token <key>``), the same one the ``demo``
command prints; asking again returns the same key. Attempts are limited per client address
(``API_THROTTLE_AUTH_TOKEN``) to slow password guessing, and wrong passwords count towards the
same lockout as the login pages (django-axes, ``LOGIN_FAILURE_LIMIT``): a username locked out from
an address is refused here too, right password or not.
"""

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny

from core.api.serializers import ErrorSerializer
from core.api.throttling import AuthTokenRateThrottle

WRONG_CREDENTIALS = "Wrong username or password (or the account is disabled)."
# The User model's limit. Longer is no username, and the lockout's records (django-axes) keep 255
# characters at most: a longer one failed their INSERT with a 500.
USERNAME_MAX_LENGTH = 150


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(write_only=True, max_length=USERNAME_MAX_LENGTH)
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})

    def validate(self, attrs):
        request = self.context.get("request")
        user = authenticate(request=request, username=attrs["username"], password=attrs["password"])
        if user is None and getattr(request, "axes_locked_out", False):
            lockout = settings.AXES_COOLOFF_TIME.total_seconds()
            raise exceptions.Throttled(
                wait=lockout,
                detail=f"Too many wrong passwords for this username from your address: locked for {lockout / 60:g} "
                "minutes from the last one.",
            )
        if user is None:
            raise serializers.ValidationError(WRONG_CREDENTIALS, code="authorization")
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="Send it as `Authorization: Token <token>`.")


class CredentialsErrorSerializer(serializers.Serializer):
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    username = serializers.ListField(child=serializers.CharField(), required=False)
    password = serializers.ListField(child=serializers.CharField(), required=False)


class AuthTokenView(ObtainAuthToken):
    """Exchange a username and password for the user's API token."""

    serializer_class = TokenRequestSerializer
    # No session: a signed-in browser posting here must not need a CSRF token, and the answer is the
    # same whoever asks. The throttle is the endpoint's own, stricter than the anonymous budget.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthTokenRateThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        auth=[],
        request=TokenRequestSerializer,
        responses={
            200: OpenApiResponse(TokenSerializer, description="The user's API token."),
            400: OpenApiResponse(
                CredentialsErrorSerializer,
                description="Wrong username or password, or one missing.",
                examples=[
                    OpenApiExample(
                        "Wrong password",
                        value={"non_field_errors": [WRONG_CREDENTIALS]},
                        response_only=True,
                        status_codes=["400"],
                    )
                ],
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many attempts from this address; the "
                "`Retry-After` header says how many seconds to wait.",
            ),
        },
        description="Exchange a username and password for the user's API token, to send as "
        "`Authorization: Token <token>` on every other request. Asking again returns the same token. "
        "Attempts are limited per client address (`API_THROTTLE_AUTH_TOKEN`, default 10 a minute), right or wrong.",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
