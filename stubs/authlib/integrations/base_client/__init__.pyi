from .errors import MismatchingStateError as MismatchingStateError
from .errors import MissingRequestTokenError as MissingRequestTokenError
from .errors import MissingTokenError as MissingTokenError
from .errors import OAuthError as OAuthError
