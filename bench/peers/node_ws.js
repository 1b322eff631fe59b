// Peer server: node's `ws`, fan-out with a loop of client.send().
// Same contract as examples/broadcast.py: /ws relays every text message to all
// /ws clients including the sender; /echo echoes.
const http = require("http");
const { WebSocketServer } = require("ws");

const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
const server = http.createServer();
const relay = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });

relay.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    for (const client of relay.clients) client.send(data, { binary: false });
  });
});
echo.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on("upgrade", (request, socket, head) => {
  const target = request.url === "/ws" ? relay : request.url === "/echo" ? echo : null;
  if (!target) return socket.destroy();
  target.handleUpgrade(request, socket, head, (ws) => target.emit("connection", ws, request));
});
server.listen(port, "127.0.0.1", 4096, () => console.log("listening"));
