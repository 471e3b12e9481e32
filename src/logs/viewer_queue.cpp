#include "logs/viewer_queue.h"

namespace siax::logs {

void ViewerQueue::push(SharedEntry entry) {
  bytes_ += entry->json.size();
  queue_.push_back(std::move(entry));
  while (!queue_.empty() && (queue_.size() > options_.max_entries || bytes_ > options_.max_bytes)) {
    bytes_ -= queue_.front()->json.size();
    queue_.pop_front();
    ++missed_;
    ++dropped_total_;
  }
}

std::optional<std::string> ViewerQueue::take_frame() {
  if (missed_ > 0) {
    auto frame = gap_frame(missed_);
    missed_ = 0;
    return frame;
  }
  if (queue_.empty()) return std::nullopt;
  std::string frame = R"({"type":"entries","entries":[)";
  std::size_t taken = 0;
  std::size_t json_bytes = 0;
  while (!queue_.empty() && taken < options_.batch_max_entries) {
    const auto& e = queue_.front();
    if (taken > 0 && json_bytes + e->json.size() > options_.batch_max_bytes) break;
    if (taken > 0) frame += ',';
    frame += e->json;
    json_bytes += e->json.size();
    bytes_ -= e->json.size();
    queue_.pop_front();
    ++taken;
  }
  frame += "]}";
  return frame;
}

void ViewerQueue::clear() noexcept {
  queue_.clear();
  bytes_ = 0;
  missed_ = 0;
}

}  // namespace siax::logs
