-- Drives review mode in the README's Neovim set-up: `:CodexEdit ...` on the open buffer, the
-- Apply / Discard / Show diff question answered "Apply" through vim.ui.select, then records
-- the buffer, the disk and the messages as JSON in $CODEX_HOST_RESULTS. Every wait is bounded.
local results = { messages = {}, steps = {}, asked = {} }
local out = assert(os.getenv("CODEX_HOST_RESULTS"))

local function step(name, ok)
  table.insert(results.steps, { name = name, ok = ok and true or false })
  return ok
end

local function finish()
  results.buffer = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  results.modified = vim.bo.modified
  vim.fn.writefile({ vim.json.encode(results) }, out)
  vim.cmd("qall!")
end

local show = vim.lsp.handlers["window/showMessage"]
vim.lsp.handlers["window/showMessage"] = function(err, params, ctx, config)
  table.insert(results.messages, params.message)
  return show(err, params, ctx, config)
end

vim.ui.select = function(items, opts, on_choice)
  table.insert(results.asked, opts.prompt)
  for _, item in ipairs(items) do
    if item.title == "Apply" then
      return on_choice(item)
    end
  end
  on_choice(nil)
end

local attached = vim.wait(30000, function()
  local clients = vim.lsp.get_clients({ name = "codex", bufnr = 0 })
  return #clients > 0 and clients[1].initialized
end, 50)
if not step("attached", attached) then
  return finish()
end

vim.cmd("CodexEdit [[fake:fs=replace:notes.txt:notes>NOTES;create:made.txt]] tidy")
step("applied", vim.wait(60000, function()
  for _, message in ipairs(results.messages) do
    if message:find("Applied Codex's changes", 1, true) then
      return true
    end
  end
  return false
end, 50))
vim.wait(500)
finish()
