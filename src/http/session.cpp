#include "http/session.h"

#include <boost/asio/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "http/session_read.ipp"   // NOLINT(bugprone-suspicious-include)
#include "http/session_write.ipp"  // NOLINT(bugprone-suspicious-include)

namespace siax::http::detail {

std::shared_ptr<SessionBase> make_session(std::shared_ptr<ServerCore> core, tcp::socket socket,
                                          std::shared_ptr<ConnectionSlot> slot, const tcp::endpoint& remote) {
  if (core->tls) {
    return std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(core), std::move(socket),
                                                                           std::move(slot), remote);
  }
  return std::make_shared<Session<beast::tcp_stream>>(std::move(core), std::move(socket), std::move(slot), remote);
}

}  // namespace siax::http::detail
