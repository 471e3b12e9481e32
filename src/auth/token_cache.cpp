#include "auth/token_cache.h"

#include <algorithm>

namespace siax::auth {

std::optional<CachedToken> TokenCache::find(std::string_view hash) const {
  std::lock_guard lock(mutex_);
  auto it = by_hash_.find(std::string(hash));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

std::size_t TokenCache::replace(std::vector<TokenRow> rows) {
  std::erase_if(rows, [](const TokenRow& r) { return r.revoked || r.hash.empty(); });
  std::size_t left_out = 0;
  if (rows.size() > max_tokens_) {
    // The newest tokens win: an old, forgotten token is the one to refuse.
    std::sort(rows.begin(), rows.end(), [](const TokenRow& a, const TokenRow& b) { return a.token.id > b.token.id; });
    left_out = rows.size() - max_tokens_;
    rows.resize(max_tokens_);
  }
  std::unordered_map<std::string, CachedToken> fresh;
  fresh.reserve(rows.size());
  for (auto& r : rows) fresh.insert_or_assign(std::move(r.hash), std::move(r.token));

  std::lock_guard lock(mutex_);
  for (auto& [hash, token] : fresh) {
    auto old = by_hash_.find(hash);
    if (old != by_hash_.end() && old->second.id == token.id && old->second.last_used_usec &&
        (!token.last_used_usec || *token.last_used_usec < *old->second.last_used_usec)) {
      token.last_used_usec = old->second.last_used_usec;  // touched since the rows were read
    }
  }
  by_hash_.swap(fresh);
  stats_.tokens = by_hash_.size();
  stats_.left_out = left_out;
  ++stats_.loads;
  stats_.loaded = true;
  return left_out;
}

bool TokenCache::note_use(std::string_view hash, std::int64_t now_usec, std::int64_t every_usec) {
  std::lock_guard lock(mutex_);
  auto it = by_hash_.find(std::string(hash));
  if (it == by_hash_.end()) return false;
  auto& last = it->second.last_used_usec;
  if (last && now_usec - *last <= every_usec) return false;
  last = now_usec;
  return true;
}

TokenCacheStats TokenCache::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace siax::auth
