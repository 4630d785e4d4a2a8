// SHA256 moved to Credentials; users of the registry keep seeing it through `import Registry`.
@_exported import Credentials
