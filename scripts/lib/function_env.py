"""The environment Lambda gives the function, for the scripts that run it behind a loopback
Runtime API stand-in (scripts/init-time.py, scripts/first-delivery.py)."""
import os


def function_env(runtime_api, home, **settings):
    """Lambda's variables, throwaway AWS credentials and an empty AWS config under `home`,
    then the function's own `settings` (THREESCALE_SECRET_ID, AWS_ENDPOINT_URL, ...)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": "access-token-revoker",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_CONFIG_FILE": os.path.join(home, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
        **settings,
    }
