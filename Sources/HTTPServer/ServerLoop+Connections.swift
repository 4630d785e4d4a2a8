#if canImport(Glibc)
import Glibc
#endif

/// HTTP on one connection, driven by the loop: read, parse, dispatch one request at a time, write the response in
/// order, then the next (pipelined requests wait in `input`). Every path that may close the connection checks
/// `closed` before going on.
extension ServerLoop {
    func connectionEvent(_ connection: Connection, events: UInt32) {
        if events & (Epoll.error | Epoll.hangup) != 0 {
            close(connection)   // reset, or both directions shut: nobody left to answer
            return
        }
        if !connection.readClosed && (events & Epoll.input != 0 || events & Epoll.readHangup != 0) {
            if connection.interest & Epoll.input != 0 {
                switch connection.read(into: scratch, budget: Self.readBudget, discard: connection.isLingering) {
                case .failed:
                    close(connection)
                    return
                case .endOfInput where connection.isLingering:
                    close(connection)   // the FIN a lingering close waits for
                    return
                case .endOfInput:
                    // A half-close (shutdown(SHUT_WR), `nc -N`): the client is still reading. Every complete request
                    // it sent is answered, a stream keeps flowing; a write error or a full close ends it.
                    connection.readClosed = true
                    probeDeparture(connection)
                case .ok:
                    break
                }
                processInput(connection)
            } else if events & Epoll.readHangup != 0 {
                // Not reading now (input is full ahead of a response in flight, or an error is being written):
                // the client may still read; its FIN is read in turn once reading resumes.
                connection.hangupSeen = true
            }
        }
        settle(connection)
    }

    /// A FIN looks the same whether the client half-closed or left altogether. While a request is being worked on and
    /// none of its answer is written yet, an interim `100 Continue` (HTTP/1.1 clients must accept unexpected 1xx
    /// responses) makes a departed client's kernel answer with a reset, which closes the connection and cancels the
    /// work; a half-closed client reads past it to the answer.
    private func probeDeparture(_ connection: Connection) {
        guard let responder = connection.responder, !connection.answerBegun,
              responder.request.version == .http1_1 else { return }
        connection.enqueue(ResponseEncoding.continueResponse, now: .now)
    }

    /// Parses buffered input while no response is in flight: sends 100 Continue, dispatches complete requests,
    /// refuses bad ones.
    func processInput(_ connection: Connection) {
        while !connection.closed && connection.phase == .open && connection.responder == nil {
            if connection.readClosed && connection.input.isEmpty {
                // Nothing more will come: what was answered is all; an unfinished request cannot be.
                connection.requestStarted = nil
                connection.phase = .closingAfterWrite
                return
            }
            if connection.parser.isIdle && connection.input.isEmpty {
                connection.requestStarted = nil
                return
            }
            if draining {
                close(connection)
                return
            }
            if connection.requestStarted == nil { connection.requestStarted = .now }
            switch connection.parser.next(&connection.input) {
            case .needMore:
                if connection.readClosed {   // the request was cut off by the client's FIN
                    connection.requestStarted = nil
                    connection.input.removeAll()
                    connection.phase = .closingAfterWrite
                }
                return
            case .head(let head):
                // A client that already sent body bytes is not waiting for the go-ahead.
                if head.expectsContinue && connection.input.isEmpty {
                    connection.enqueue(ResponseEncoding.continueResponse, now: .now)
                }
            case .complete(let head, let body):
                connection.requestStarted = nil
                dispatch(connection, head: head, body: body)
            case .failure(let error):
                refuse(connection, error)
            }
        }
    }

    private func dispatch(_ connection: Connection, head: RequestHead, body: [UInt8]) {
        let request = HTTPRequest(method: head.method, target: head.target, version: head.version,
                                  headers: head.headers, body: body, peer: connection.peer,
                                  remoteAddress: connection.remoteAddress, connectionId: connection.id)
        let responder = HTTPResponder(request: request, keepAlive: head.keepAlive, shared: shared)
        connection.responder = responder
        connection.answerBegun = false
        connection.responseEnded = false
        connection.closeAfterResponse = false
        shared.inFlight.add(1, ordering: .relaxed)
        shared.handler(request, responder)   // may respond at once: that arrives as a command
    }

    /// Queues an error response; the connection closes once it is written.
    func refuse(_ connection: Connection, _ error: RequestError) {
        connection.input.removeAll()
        connection.requestStarted = nil
        connection.enqueue(ResponseEncoding.error(error), now: .now)
        connection.phase = .closingAfterWrite
    }

    /// Moves what the current responder queued into the connection's output.
    func pullOutput(_ connection: Connection) {
        guard !connection.closed, let responder = connection.responder, !connection.responseEnded else { return }
        let output = responder.takeOutput()
        if output.overflowed || (output.streaming && !output.bytes.isEmpty
                                 && connection.output.count > shared.configuration.maxOutputBufferBytes) {
            close(connection)   // the client is not reading the stream; onClose tells the producer to stop
            return
        }
        connection.enqueue(output.bytes, now: .now)
        if !output.bytes.isEmpty { connection.answerBegun = true }
        if output.ended {
            connection.responseEnded = true
            connection.closeAfterResponse = output.closeAfter
        }
        settle(connection)
    }

    /// Writes what it can, then moves the connection on: a fully written response finishes (and the next
    /// pipelined request is parsed), a fully written final response starts the lingering close.
    func settle(_ connection: Connection) {
        while !connection.closed {
            if !connection.output.isEmpty {
                guard connection.flush(now: .now) else {
                    close(connection)
                    return
                }
                if !connection.output.isEmpty { break }   // the kernel is full: EPOLLOUT brings us back
            }
            if connection.phase == .open && connection.responder != nil && connection.responseEnded {
                finishResponse(connection)
                continue
            }
            if connection.phase == .closingAfterWrite {
                beginLinger(connection)
            }
            break
        }
        if !connection.closed { updateInterest(connection) }
    }

    private func finishResponse(_ connection: Connection) {
        connection.responder = nil
        connection.responseEnded = false
        shared.inFlight.subtract(1, ordering: .relaxed)
        connection.idleSince = .now
        if connection.closeAfterResponse || draining {
            connection.phase = .closingAfterWrite
        } else {
            processInput(connection)
        }
    }

    private func beginLinger(_ connection: Connection) {
        if connection.readClosed {   // the client's FIN is already here: nothing to wait for
            close(connection)
            return
        }
        _ = retryingEINTR { shutdown(connection.fd, Int32(SHUT_WR)) }
        connection.input.removeAll()
        connection.phase = .lingering(until: .now + Self.lingerTime)
    }

    func updateInterest(_ connection: Connection) {
        let wanted = connection.wantedInterest
        guard wanted != connection.interest else { return }
        do {
            try epoll.modify(connection.fd, events: wanted, token: connection.id)
            connection.interest = wanted
        } catch {
            close(connection)
        }
    }

    /// Closes the socket at once. A response still in flight is abandoned: its onClose callbacks run here.
    func close(_ connection: Connection) {
        guard !connection.closed else { return }
        connection.closed = true
        epoll.remove(connection.fd)
        closeDescriptor(connection.fd)
        connections[connection.id] = nil
        openByKind[connection.kind, default: 1] -= 1
        if let host = connection.remoteHost {
            let left = openByHost[host, default: 1] - 1
            openByHost[host] = left > 0 ? left : nil
        }
        shared.openConnections.subtract(1, ordering: .relaxed)
        if let responder = connection.responder {
            connection.responder = nil
            shared.inFlight.subtract(1, ordering: .relaxed)
            responder.connectionClosed()
        }
    }
}
