-- Drives the README's Neovim set-up (loaded as init.lua) like a user: `:Codex ...`, then a
-- slow run stopped with `:CodexCancel`. Records what Neovim received (messages, progress)
-- and writes it as JSON to $CODEX_HOST_RESULTS, then quits. Every wait is bounded.
local results = { messages = {}, progress = {}, steps = {} }
local out = assert(os.getenv("CODEX_HOST_RESULTS"))

local function step(name, ok)
  table.insert(results.steps, { name = name, ok = ok and true or false })
  return ok
end

local function finish()
  vim.fn.writefile({ vim.json.encode(results) }, out)
  vim.cmd("qall!")
end

local show = vim.lsp.handlers["window/showMessage"]
vim.lsp.handlers["window/showMessage"] = function(err, params, ctx, config)
  table.insert(results.messages, params.message)
  return show(err, params, ctx, config)
end

vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(ev)
    local value = ev.data.params.value
    table.insert(results.progress, {
      token = tostring(ev.data.params.token),
      kind = value.kind,
      title = value.title,
      message = value.message,
      cancellable = value.cancellable,
    })
  end,
})

local function said(text)
  for _, message in ipairs(results.messages) do
    if message:find(text, 1, true) then
      return true
    end
  end
  return false
end

local function progress_count(kind)
  local count = 0
  for _, item in ipairs(results.progress) do
    if item.kind == kind then
      count = count + 1
    end
  end
  return count
end

local attached = vim.wait(30000, function()
  local clients = vim.lsp.get_clients({ name = "codex", bufnr = 0 })
  return #clients > 0 and clients[1].initialized
end, 50)
if not step("attached", attached) then
  return finish()
end

vim.cmd("Codex Say hello. [[mock:hello]]")
if not step("answered", vim.wait(60000, function() return said("Hello from the mock.") end, 50)) then
  return finish()
end
step("first progress ended", vim.wait(10000, function() return progress_count("end") >= 1 end, 50))

vim.cmd("Codex Take long. [[mock:slow]]")
if not step("slow run began", vim.wait(30000, function() return progress_count("begin") >= 2 end, 50)) then
  return finish()
end
vim.wait(1000) -- let codex get going
vim.cmd("CodexCancel")
step("slow run ended", vim.wait(30000, function() return progress_count("end") >= 2 end, 50))
vim.wait(500)
finish()
