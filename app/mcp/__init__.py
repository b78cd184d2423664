"""lectern as an MCP server (the official `mcp` SDK): the tools `search`, `ask`, `extract`,
`list_documents` and `get_document`, each running the use case of its HTTP route for one
tenant.

Public API:

- `build_server`, `TenantOf`, `http_tenant`: the server and how a call's tenant is found
  (`server`);
- `mount`, `MCP_PATH`, `McpEndpoint`: streamable HTTP on the API app, behind the auth gate
  (`http`); stdio is `lectern mcp` (`app.cli.mcp`).
"""

from app.mcp.http import MCP_PATH, McpEndpoint, mount
from app.mcp.server import TenantOf, build_server, http_tenant

__all__ = ["MCP_PATH", "McpEndpoint", "TenantOf", "build_server", "http_tenant", "mount"]
