#include "logs/folder.h"

#include <algorithm>
#include <string_view>

#include "logs/level.h"

namespace siax::logs {
namespace {

bool indented(std::string_view s) { return !s.empty() && (s.front() == ' ' || s.front() == '\t'); }

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

bool chain_sentence(std::string_view s) {
  return s.starts_with("During handling of the above exception, another exception occurred:") ||
         s.starts_with("The above exception was the direct cause of the following exception:");
}

LogEntry single(RawLine&& line) {
  LogEntry e;
  e.time_usec = line.time_usec;
  e.priority = effective_priority(line.priority, line.message);
  e.message = std::move(line.message);
  e.pid = line.pid;
  e.cursor = std::move(line.cursor);
  return e;
}

}  // namespace

bool LineFolder::full() const noexcept {
  return current_.lines >= options_.max_lines || current_.message.size() >= options_.max_bytes;
}

void LineFolder::append(RawLine line) {
  for (auto& b : blanks_) {
    current_.message += '\n';
    current_.message += b.message;
    ++current_.lines;
  }
  blanks_.clear();
  current_.message += '\n';
  current_.message += line.message;
  current_.cursor = std::move(line.cursor);
  ++current_.lines;
  current_.folded = true;
  current_.priority = std::min(current_.priority, 3);
}

void LineFolder::close(std::vector<LogEntry>& out) {
  if (state_ == State::Idle) return;
  out.push_back(std::move(current_));
  current_ = LogEntry{};
  for (auto& b : blanks_) out.push_back(single(std::move(b)));
  blanks_.clear();
  state_ = State::Idle;
}

void LineFolder::flush(std::vector<LogEntry>& out) { close(out); }

void LineFolder::start(RawLine line, std::vector<LogEntry>& out) {
  const bool traceback = is_python_traceback_start(line.message);
  auto entry = single(std::move(line));
  if (traceback) {
    entry.priority = std::min(entry.priority, 3);
    current_ = std::move(entry);
    state_ = State::PyFrames;
  } else if (entry.priority <= 3) {
    current_ = std::move(entry);
    state_ = State::ErrorLine;
  } else {
    out.push_back(std::move(entry));
  }
}

void LineFolder::push(RawLine line, std::vector<LogEntry>& out) {
  ++pushed_;
  if (state_ != State::Idle && (line.pid != current_.pid || full())) close(out);
  const std::string_view m = line.message;
  switch (state_) {
    case State::Idle:
      return start(std::move(line), out);
    case State::ErrorLine:
      if (is_python_traceback_start(m)) {
        append(std::move(line));
        state_ = State::PyFrames;
        return;
      }
      if (is_node_stack_frame(m)) {
        append(std::move(line));
        state_ = State::NodeStack;
        return;
      }
      break;
    case State::PyFrames:
      if (indented(m)) return append(std::move(line));
      if (!blank(m)) {  // the exception line ends the frames
        append(std::move(line));
        state_ = State::PyAfterException;
        return;
      }
      break;
    case State::PyAfterException:
      if (blank(m) && blanks_.size() < 2) {
        blanks_.push_back(std::move(line));
        return;
      }
      if (chain_sentence(m)) {
        append(std::move(line));
        state_ = State::PyChain;
        return;
      }
      if (indented(m) && blanks_.empty()) return append(std::move(line));  // exception notes
      break;
    case State::PyChain:
      if (blank(m) && blanks_.size() < 2) {
        blanks_.push_back(std::move(line));
        return;
      }
      if (is_python_traceback_start(m)) {
        append(std::move(line));
        state_ = State::PyFrames;
        return;
      }
      break;
    case State::NodeStack:
      if (indented(m) && !blank(m)) return append(std::move(line));
      break;
  }
  close(out);
  start(std::move(line), out);
}

std::vector<LogEntry> fold_all(std::vector<RawLine> lines, FolderOptions options) {
  LineFolder folder(options);
  std::vector<LogEntry> out;
  out.reserve(lines.size());
  for (auto& l : lines) folder.push(std::move(l), out);
  folder.flush(out);
  return out;
}

}  // namespace siax::logs
